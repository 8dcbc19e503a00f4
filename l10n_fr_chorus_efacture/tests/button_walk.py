"""Every button this module's views offer, clicked as the web client clicks it, by each role that sees it.

A button of a view is called through ``odoo.api.call_kw``, as ``/web/dataset/call_button`` calls it: a list's
header button with the selected ids (and with none when it shows without a selection), a form or row button
with its record's id, a button inside a one2many list on that line's record, with the field's context. A
button that opens a window (a wizard) has the window made as the web client makes it (a form saved with the
action's context), and that window's buttons are clicked in turn. The actions the module binds to a model
(the "Actions" menu) and its server actions are run too. Each click is rolled back, so that every one starts
from the same records.

Anything but a result or a clear ``UserError`` (``AccessError``, ``ValidationError``...) is a failure: a
``TypeError`` of a method called with the wrong arguments, a ``KeyError``, an ``AttributeError``...
"""

import ast
import contextlib
import traceback

from lxml import etree

import odoo
from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import Form, new_test_user
from odoo.tools.safe_eval import safe_eval

MODULE = "l10n_fr_chorus_efacture"
# The roles of the module's users; each clicks what it sees.
ROLES = {
    "billing": "account.group_account_invoice",
    "billing_partners": "account.group_account_invoice,base.group_partner_manager",
    "readonly": "account.group_account_readonly",
    "accountant": "account.group_account_manager,base.group_partner_manager",
    "validator": "l10n_fr_chorus_efacture.group_chorus_inbound_validator",
    "chorus_manager": "l10n_fr_chorus_efacture.group_chorus_manager,base.group_system,base.group_partner_manager",
}
# Records of a model a button is clicked on at most: the walk must stay a test, not a benchmark.
RECORDS_PER_BUTTON = 4
WIZARD_DEPTH = 2


class ButtonWalk:
    """Mixin of a test class: ``walk(models)`` clicks every button of the module's views of ``models``."""

    # What a user types in a window before clicking its buttons ({model: {field: value}}).
    WIZARD_VALUES = {}

    @classmethod
    def setup_roles(cls, companies):
        cls.walk_companies = companies
        cls.roles = {
            name: new_test_user(cls.env, login="walk_%s" % name, name="Walk %s" % name, groups=groups,
                                company_id=companies[0].id, company_ids=[Command.set(companies.ids)])
            for name, groups in ROLES.items()
        }

    # ------------------------------------------------------------ the views
    def module_records(self, model):
        data = self.env["ir.model.data"].search([("module", "=", MODULE), ("model", "=", model)])
        return self.env[model].browse(data.mapped("res_id")).exists()

    def module_views(self, models):
        return self.module_records("ir.ui.view").filtered(lambda view: view.model in models)

    @staticmethod
    def view_buttons(view):
        """(button node, the x2many field node it sits in or None) of each object button of the view's arch."""
        arch = etree.fromstring(view.arch_db)
        for node in arch.iter("button"):
            if node.get("type") == "object" and node.get("name"):
                yield node, next(node.iterancestors("field"), None)

    @staticmethod
    def conditions(node, stop):
        """The ``invisible`` expressions and ``groups`` of a node and its ancestors (up to ``stop``)."""
        invisible, groups = [], []
        for element in [node, *node.iterancestors()]:
            if element is stop:
                break
            if element.get("invisible") not in (None, "0", "False"):
                invisible.append(element.get("invisible"))
            if element.get("groups"):
                groups.append(element.get("groups"))
        return invisible, groups

    # ------------------------------------------------------------- who sees
    @staticmethod
    def in_groups(user, groups):
        for spec in groups:
            allowed = [g.strip() for g in spec.split(",") if g.strip() and not g.strip().startswith("!")]
            denied = [g.strip()[1:] for g in spec.split(",") if g.strip().startswith("!")]
            if any(user.has_group(g) for g in denied):
                return False
            if allowed and not any(user.has_group(g) for g in allowed):
                return False
        return True

    def records_for(self, user, pool, model):
        """The records of ``pool`` the user can read (``pool[model]`` may make them for the user: a settings
        record)."""
        records = pool.get(model)
        if callable(records):
            return records(user).sudo()
        return self.readable(user, records or self.env[model])

    def readable(self, user, records):
        model = records.with_user(user).with_context(allowed_company_ids=user.company_ids.ids)
        if not model.has_access("read"):
            return records.browse()
        return model.search([("id", "in", records.ids)]).sudo()

    @staticmethod
    def visible(expressions, record):
        """Whether the web client shows the button on ``record`` (an expression it cannot tell counts as shown)."""
        for expression in expressions:
            expression = expression.strip()
            try:
                names = {n.id for n in ast.walk(ast.parse(expression, mode="eval")) if isinstance(n, ast.Name)}
            except SyntaxError:
                continue
            values = {"context": record.env.context, "uid": record.env.uid}
            for name in names & set(record._fields):
                field, value = record._fields[name], record[name]
                if field.type == "many2one":
                    value = value.id
                elif field.type in ("one2many", "many2many"):
                    value = value.ids
                values[name] = value
            try:
                if safe_eval(expression, values):
                    return False
            except Exception:  # noqa: BLE001 - parent.x, unknown names: the client may show it
                continue
        return True

    # ---------------------------------------------------------------- click
    def click(self, user, model, method, ids, context, where, depth=0):
        """Call ``method`` as /web/dataset/call_button does, rolled back afterwards; a window it opens is walked."""
        self.walk_clicked.add((model, method))
        env_model = self.env[model].with_user(user)
        context = dict(context, allowed_company_ids=self.user_companies(user, model, ids))
        with contextlib.closing(self.env.cr.savepoint()):
            try:
                result = odoo.api.call_kw(env_model, method, [ids], {"context": context})
            except UserError as error:
                self.check_clear(error, user, model, method, ids, where)
                return
            except Exception as error:  # noqa: BLE001 - any other exception is what the walk looks for
                self.walk_failures.append("%s: %s.%s(%s) by %s: %s\n%s" % (
                    where, model, method, ids, user.login, repr(error), traceback.format_exc(limit=-3)))
                return
            if depth < WIZARD_DEPTH:
                self.follow(user, result, context, where, depth)

    def user_companies(self, user, model, ids):
        """The companies the web client has selected: the record's first (as when the user switched to it)."""
        records = self.env[model].sudo().browse(ids)
        first = records[:1].company_id if "company_id" in records._fields else self.env["res.company"]
        companies = user.company_ids
        return (first & companies).ids + (companies - first).ids

    def check_clear(self, error, user, model, method, ids, where):
        message = error.args[0] if error.args else ""
        if not isinstance(message, str) or len(message.strip()) < 15 or "Traceback" in message:
            self.walk_failures.append("%s: %s.%s(%s) by %s: unclear message %r" % (
                where, model, method, ids, user.login, message))

    def follow(self, user, result, context, where, depth):
        """A window the click opened (a wizard, target new): made as the web client makes it, then walked."""
        if not isinstance(result, dict) or result.get("type") != "ir.actions.act_window":
            return
        model = result.get("res_model")
        if not model or not self.env[model]._transient or result.get("target") != "new":
            return
        action_context = result.get("context") or {}
        if isinstance(action_context, str):
            action_context = safe_eval(action_context, {"uid": user.id, "context": context})
        wizard_env = self.env[model].with_user(user).with_context(dict(context, **action_context))
        if result.get("res_id"):
            wizards = [wizard_env.browse(result["res_id"])]
        else:
            # As opened, then as a user fills it (WIZARD_VALUES): both must answer clearly.
            wizards = []
            for values in [{}] + ([self.WIZARD_VALUES[model]] if model in self.WIZARD_VALUES else []):
                try:
                    form = Form(wizard_env)
                    for name, value in values.items():
                        setattr(form, name, value)
                    wizards.append(form.save())
                except UserError as error:
                    self.check_clear(error, user, model, "open", [], where)
                except AssertionError:
                    continue  # a required field left empty: the web client does not let the user click
        for wizard in wizards:
            self.walk_record_buttons(user, wizard.sudo(), "%s > %s" % (where, model), depth + 1,
                                     dict(context, **action_context))

    # ----------------------------------------------------------------- walk
    def walk_record_buttons(self, user, record, where, depth, context):
        for view in self.module_views({record._name}):
            for node, subfield in self.view_buttons(view):
                if subfield is not None:
                    continue
                invisible, groups = self.conditions(node, None)
                if self.in_groups(user, groups) and self.visible(invisible, record):
                    self.click(user, record._name, node.get("name"), record.ids, context, where, depth)

    def walk(self, models, pool):
        """Click every object button of the module's views of ``models`` (persistent models, records from
        ``pool[model]``), for every role that sees it; then the module's bound and server actions."""
        self.walk_failures, self.walk_clicked = [], set()
        offered = set()
        for view in self.module_views(set(models)):
            for node, subfield in self.view_buttons(view):
                offered.add((view.model, node.get("name")) if subfield is None else
                            (self.env[view.model]._fields[subfield.get("name")].comodel_name, node.get("name")))
                self.walk_button(view, node, subfield, pool)
        self.walk_bound_actions(set(models), pool)
        return offered

    def walk_button(self, view, node, subfield, pool):
        method, model = node.get("name"), view.model
        invisible, groups = self.conditions(node, subfield)
        where = "%s (%s)" % (view.xml_id or view.name, method)
        for role, user in self.roles.items():
            if view.groups_id and not (view.groups_id & user.groups_id):
                continue
            if not self.in_groups(user, groups):
                continue
            records = self.records_for(user, pool, model)
            if not records:
                continue
            if subfield is not None:
                self.walk_line_button(user, records, subfield, node, method, invisible, where)
            elif view.type == "list" and next(node.iterancestors("header"), None) is not None:
                if node.get("display") == "always":
                    self.click(user, model, method, [], {}, where + " [no selection]")
                self.click(user, model, method, records[:RECORDS_PER_BUTTON].ids, {}, where + " [selection]")
            else:
                shown = records.filtered(lambda r: self.visible(invisible, r))
                # Hidden everywhere: clicked anyway (RPC can call it), it must still answer clearly.
                for record in (shown or records)[:RECORDS_PER_BUTTON]:
                    self.click(user, model, method, record.ids, {}, where)

    def walk_line_button(self, user, records, subfield, node, method, invisible, where):
        """A button of a one2many or many2many list: called on the line's record, with the field's context."""
        name = subfield.get("name")
        for record in records[:RECORDS_PER_BUTTON]:
            context = {}
            if subfield.get("context"):
                values = {field: (record[field].id if record._fields[field].type == "many2one" else record[field])
                          for field in record._fields if field in subfield.get("context")}
                with contextlib.suppress(Exception):
                    context = safe_eval(subfield.get("context"), dict(values, context={}, uid=user.id))
            lines = record.with_user(user)[name]
            for line in lines[:RECORDS_PER_BUTTON]:
                self.click(user, line._name, method, line.ids, context, where + " [line]")

    def walk_bound_actions(self, models, pool):
        """The module's actions in a model's "Actions" menu, and its server actions, run as each role."""
        for action in self.module_records("ir.actions.server").filtered(lambda a: a.usage != "ir_cron"):
            model = action.model_id.model
            if model not in models:
                continue
            for role, user in self.roles.items():
                if action.groups_id and not (action.groups_id & user.groups_id):
                    continue
                if not self.env[model].with_user(user).has_access("read"):
                    continue  # the menu or the Actions menu is not shown to this role
                records = self.records_for(user, pool, model)
                if not records and action.binding_model_id:
                    continue
                ids = records[:RECORDS_PER_BUTTON].ids
                self.walk_clicked.add((model, action.xml_id))
                context = {"active_model": model, "active_ids": ids, "active_id": ids[:1] and ids[0],
                           "allowed_company_ids": self.user_companies(user, model, ids)}
                with contextlib.closing(self.env.cr.savepoint()):
                    try:
                        result = action.with_user(user).with_context(context).run()
                    except UserError as error:
                        self.check_clear(error, user, model, action.xml_id, ids, action.xml_id)
                        continue
                    except Exception as error:  # noqa: BLE001
                        self.walk_failures.append("%s by %s: %r\n%s" % (action.xml_id, user.login, error,
                                                                          traceback.format_exc(limit=-3)))
                        continue
                    self.follow(user, result, context, action.xml_id, 0)
        for action in self.module_records("ir.actions.act_window"):
            model = action.binding_model_id.model
            if not model or model not in models:
                continue
            for role, user in self.roles.items():
                records = self.records_for(user, pool, model)
                if not records or (action.groups_id and not (action.groups_id & user.groups_id)):
                    continue
                ids = records[:RECORDS_PER_BUTTON].ids
                self.walk_clicked.add((model, action.xml_id))
                context = {"active_model": model, "active_ids": ids, "active_id": ids[0],
                           "allowed_company_ids": self.user_companies(user, model, ids)}
                with contextlib.closing(self.env.cr.savepoint()):
                    self.follow(user, dict(action.read(["type", "res_model", "target", "context"])[0]),
                                context, action.xml_id, 0)

    def assert_walked(self, offered):
        """No failure, and every button offered was clicked at least once (by some role, on some record)."""
        if self.walk_failures:
            self.fail("%s button clicks failed:\n\n%s" % (len(self.walk_failures), "\n\n".join(self.walk_failures)))
        missed = sorted("%s.%s" % pair for pair in offered - self.walk_clicked)
        self.assertFalse(missed, "buttons never clicked (no role or no record to click them on): %s" % missed)
