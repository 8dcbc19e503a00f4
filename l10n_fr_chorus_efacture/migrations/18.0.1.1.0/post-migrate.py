"""Customers looked up before the lookup ran in the background: their structure is known, so they are checked
(their status and the "Chorus Pro: to check / to fix" filters then see them)."""


def migrate(cr, version):
    if not version:
        return
    cr.execute("""
        UPDATE res_partner SET chorus_structure_state = 'checked'
         WHERE chorus_structure_state IS NULL AND COALESCE(chorus_structure_id, 0) > 0
    """)
