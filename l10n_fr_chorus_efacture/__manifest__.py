{
    "name": "France - Chorus Pro e-invoicing (B2G)",
    "summary": "Send invoices to French public buyers and receive them through the Chorus Pro API",
    "version": "18.0.1.0.0",
    "category": "Accounting/Localizations/EDI",
    "license": "AGPL-3",
    "author": "l10n_fr_chorus_efacture contributors",
    "website": "https://github.com/l10n-fr-chorus-efacture/l10n_fr_chorus_efacture",
    "countries": ["fr"],
    "depends": [
        "account",
        "mail",
        "l10n_fr_account",
        "account_edi_ubl_cii",
        "l10n_fr_facturx_chorus_pro",
    ],
    "external_dependencies": {
        "python": ["requests", "lxml", "cryptography", "factur-x", "python-stdnum"],
    },
    "data": [
        "security/chorus_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "wizards/chorus_account_wizard_views.xml",
        "wizards/chorus_partner_sending_wizard_views.xml",
        "wizards/account_move_send_wizard_views.xml",
        "wizards/chorus_invoice_update_wizard_views.xml",
        "wizards/chorus_inbound_wizard_views.xml",
        "views/res_config_settings_views.xml",
        "views/res_partner_views.xml",
        "views/account_move_views.xml",
        "views/chorus_inbound_invoice_views.xml",
    ],
    "demo": [
        "demo/chorus_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "l10n_fr_chorus_efacture/static/tests/tours/*.js",
        ],
    },
    "installable": True,
    "application": False,
}
