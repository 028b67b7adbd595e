"""A Git smart-HTTP server for the local stack: git's own ``git http-backend`` behind basic auth.

It stands in for Gitea in the demo and the tests; the pipeline talks to both the same way (HTTP
basic auth with a user and a token, never in the remote URL).
"""
