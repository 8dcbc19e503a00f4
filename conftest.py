"""pytest-odoo set-up of the repository (scripts/test.sh runs the module's tests under it too).

- Each test runs as under Odoo's own runner: ``odoo.modules.module.current_test`` is set, so that Odoo
  neither commits (account.move.send._can_commit) nor really sends mail (ir.mail_server test mode).
- HttpCase classes (browser tours, JSON-RPC calls) only run under Odoo's runner: they need the HTTP server
  that Odoo's runner starts, and pytest-odoo starts none. They are deselected here, not skipped.
"""

import pytest

HTTP_CLASSES = {"TestChorusTour", "TestChorusInboundRpc", "TestChorusFieldsRpc"}


@pytest.fixture(autouse=True)
def odoo_current_test(request):
    import odoo
    previous = odoo.modules.module.current_test
    odoo.modules.module.current_test = request.node.name
    yield
    odoo.modules.module.current_test = previous


def pytest_collection_modifyitems(config, items):
    tours = [item for item in items if getattr(item.cls, "__name__", "") in HTTP_CLASSES]
    if tours:
        config.hook.pytest_deselected(items=tours)
        items[:] = [item for item in items if item not in tours]
