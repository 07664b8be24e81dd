"""The built-in email templates, installed as the package `newsletter.templates`.

This folder is their only copy. To change them for one newsletter, override them by name in
the templates folder next to newsletter.toml (see the README), not here.
"""
