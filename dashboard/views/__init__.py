"""The dashboard's blueprints, one module each (``bp``); ``dashboard.create_app`` registers them.

A module may also define ``NAV_ITEMS``: ``[(text, endpoint, roles), ...]`` for the header's navigation
(endpoints that take no URL arguments; each item shows to the roles named).
"""
