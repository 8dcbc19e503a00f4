/** @odoo-module */

import { registry } from "@web/core/registry";

// A user sends an invoice to Chorus Pro from its form: the service exécutant the customer requires is
// chosen in the send wizard, and the invoice shows that it was deposited.
registry.category("web_tour.tours").add("l10n_fr_chorus_efacture_send_tour", {
    steps: () => [
        {
            content: "Open the actions menu",
            trigger: ".o_form_view .o_cp_action_menus i.fa-cog",
            run: "click",
        },
        {
            content: "Send to Chorus Pro",
            trigger: ".dropdown-menu .o_menu_item:contains('Send to Chorus Pro')",
            run: "click",
        },
        {
            content: "The wizard says what is missing",
            trigger: ".modal:contains('requires a service exécutant')",
        },
        {
            content: "Choose the service exécutant",
            trigger: ".modal div[name='chorus_service_id'] input",
            run: "edit ECOLES",
        },
        {
            content: "Pick it",
            trigger: ".o-autocomplete--dropdown-item:contains('ECOLES')",
            run: "click",
        },
        {
            content: "Nothing is missing any more",
            trigger: ".modal:not(:contains('requires a service exécutant')):contains('definitive')",
        },
        {
            content: "Send",
            trigger: ".modal button[name='action_send_and_print']:visible",
            run: "click",
        },
        {
            content: "The closing screen: deposit done, with the flux number",
            trigger: ".modal:contains('Deposit done') .o_data_row:contains('Deposited'):contains('CPP')",
        },
        {
            content: "Close the sending report",
            trigger: ".modal .modal-footer button[special='cancel']",
            run: "click",
        },
        {
            content: "The invoice is deposited in Chorus Pro",
            trigger: "body:not(:has(.modal)) .o_form_view div[name='chorus_state']:contains('Deposited')",
        },
    ],
});
