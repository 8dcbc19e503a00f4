/** @odoo-module */

import { registry } from "@web/core/registry";

// A Chorus Pro manager configures the technical account from Settings, then checks the connection.
registry.category("web_tour.tours").add("l10n_fr_chorus_efacture_account_tour", {
    url: "/odoo/settings",
    steps: () => [
        {
            content: "Open the Invoicing settings",
            trigger: ".settings_tab .tab[data-key='account']",
            run: "click",
        },
        {
            content: "The Chorus Pro block says the account is not configured",
            trigger: ".o_field_widget[name='chorus_account_status']:contains('Not configured')",
        },
        {
            content: "Open the technical account wizard",
            trigger: "button[name='action_chorus_configure_account']",
            run: "click",
        },
        {
            content: "Enter the login",
            trigger: ".modal div[name='login'] input",
            run: "edit TECH_1_ANP@cpro.fr",
        },
        {
            content: "Enter the password",
            trigger: ".modal div[name='password'] input",
            run: "edit Sandbox-Supplier-2026!",
        },
        {
            content: "Nothing stored yet: the expiry date is typed as the portal shows it",
            trigger: ".modal div[name='expiry_date'] input",
            run: "edit 09/30/2027",
        },
        {
            content: "Save",
            trigger: ".modal button[name='action_save']",
            run: "click",
        },
        {
            content: "The status now gives the date of the change",
            trigger: "body:not(:has(.modal)) .o_field_widget[name='chorus_account_status']:contains('Last changed on')",
        },
        {
            content: "Check the connection",
            trigger: "button[name='action_chorus_check_connection']",
            run: "click",
        },
        {
            content: "Chorus Pro answers",
            trigger: ".o_notification:contains('Chorus Pro connection works')",
        },
    ],
});
