"""A small AWS client for the status and authorizer functions' read path (stdlib only).
"""
