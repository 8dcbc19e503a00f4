/** @odoo-module */

import { registry } from "@web/core/registry";

// A public buyer takes a received invoice from "to process" to its mandate: service done with a reason,
// internal validation, then the vendor bill created and Chorus Pro told.
registry.category("web_tour.tours").add("l10n_fr_chorus_efacture_inbound_tour", {
    steps: () => [
        {
            content: "The received invoice waits to be processed",
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
            content: "The invoice now waits for its internal validation",
            trigger: "body:not(:has(.modal)) .o_statusbar_status button.o_arrow_button_current:contains('To validate')",
        },
        {
            content: "Validate it",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_internal_validate']",
            run: "click",
        },
        {
            content: "Create its mandate",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_mandate']",
            run: "click",
        },
        {
            content: "The expense account is proposed; confirm",
            trigger: ".modal div[name='account_id'] input:value(/\\w/)",
        },
        {
            content: "Create the mandate",
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
            trigger: "body:not(:has(.modal)) .o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Posted')",
        },
    ],
});
