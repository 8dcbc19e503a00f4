/** @odoo-module */

import { registry } from "@web/core/registry";

// A public buyer takes a received invoice from its internal validation to its mandate: validated inside
// first, then service done with a reason (Chorus Pro told), then the vendor bill, which links back.
registry.category("web_tour.tours").add("l10n_fr_chorus_efacture_inbound_tour", {
    steps: () => [
        {
            content: "The received invoice is checked inside first",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('To validate')",
        },
        {
            content: "Its supplier was found by its IBAN",
            trigger: ".o_form_view div[name='match_method']:contains('IBAN')",
        },
        {
            content: "Processing is not offered before the validation",
            trigger: ".o_form_view .o_statusbar_buttons:not(:has(button[name='action_process'].btn-primary))",
        },
        {
            content: "Validate it internally",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_internal_validate']",
            run: "click",
        },
        {
            content: "Now it is to process",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('To process')",
        },
        {
            content: "Process it",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_process'].btn-primary",
            run: "click",
        },
        {
            content: "Only the statuses allowed from 'Made available' are offered",
            trigger: ".modal footer:has(button[name='action_service_done']):has(button[name='action_suspend'])",
        },
        {
            content: "Give the reason Chorus Pro needs",
            trigger: ".modal div[name='reason'] textarea",
            run: "edit Prestation réalisée et contrôlée",
        },
        {
            content: "Service done: sent to Chorus Pro",
            trigger: ".modal button[name='action_service_done']",
            run: "click",
        },
        {
            content: "Mandate it",
            trigger:
                "body:not(:has(.modal)) .o_form_view .o_statusbar_buttons button[name='action_mandate'].btn-primary",
            run: "click",
        },
        {
            content: "The expense account is proposed",
            trigger: ".modal div[name='account_id'] input:value(/\\w/)",
        },
        {
            content: "Confirm the mandate",
            trigger: ".modal button[name='action_confirm']",
            run: "click",
        },
        {
            content: "The run says what became of the invoice",
            trigger: ".modal div[name='report']:contains('mandated by')",
        },
        {
            content: "Open the mandate",
            trigger: ".modal button[name='action_open_bills']",
            run: "click",
        },
        {
            content: "The posted vendor bill opens",
            trigger: "body:not(:has(.modal)) .o_form_view .o_statusbar_status " +
                "button.o_arrow_button_current:contains('Posted')",
        },
        {
            content: "It shows the Chorus invoice number and leads back to the received invoice",
            trigger: ".o_form_view button[name='action_chorus_open_inbound']:contains(/\\d+/)",
            run: "click",
        },
        {
            content: "Back on the received invoice, mandated",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Mandated')",
        },
    ],
});
