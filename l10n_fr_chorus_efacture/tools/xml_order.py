from lxml import etree


def insert_before(parent, element, following):
    """Insert ``element`` into ``parent`` before its first child named (local name) in ``following``, else last:
    where the schema's order puts it."""
    for child in parent:
        if etree.QName(child).localname in following:
            child.addprevious(element)
            return
    parent.append(element)
