from odoo import api, models


class IrUiMenu(models.Model):
    _inherit = "ir.ui.menu"

    @api.model
    def load_menus(self, debug):
        """Chorus Pro's menus by side, shown to the users of a company that uses the side: Receiving when one of
        their companies receives invoices through Chorus Pro; Issuing unless all of them receive and never sent one
        (a public body sends rarely: its first sending is from the invoice, and the side shows from then on).
        Filtered after Odoo's cache (per user), which a company's settings do not clear."""
        menus = super().load_menus(debug)
        hidden = self._chorus_hidden_side_menus()
        if not hidden:
            return menus
        # The cached dict is shared: filtered into a copy.
        menus = {key: dict(menu) for key, menu in menus.items() if key not in hidden}
        for menu in menus.values():
            if menu.get("children"):
                menu["children"] = [child for child in menu["children"] if child not in hidden]
        return menus

    @api.model
    def _chorus_hidden_side_menus(self):
        receiving = self.env.ref("l10n_fr_chorus_efacture.menu_chorus_receiving", raise_if_not_found=False)
        sending = self.env.ref("l10n_fr_chorus_efacture.menu_chorus_sending", raise_if_not_found=False)
        if not receiving or not sending:
            return set()
        companies = self.env.user.company_ids.sudo()
        receivers = companies.filtered("chorus_receive")
        hidden = self.browse()
        if not receivers:
            hidden |= receiving
        elif receivers == companies and not self.env["account.move"].sudo().search_count(
                [("company_id", "in", companies.ids), ("chorus_state", "!=", False)], limit=1):
            hidden |= sending
        if not hidden:
            return set()
        return set(self.sudo().with_context(**{"ir.ui.menu.full_list": True}).search(
            [("id", "child_of", hidden.ids)]).ids)
