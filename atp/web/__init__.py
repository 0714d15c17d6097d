"""The dashboard: server-rendered page shells plus one small script, shipped in the package.

No build step and no CDN: the templates and static files are package data. The pages
show what the API returns (which is what the engine returned), never a recomputation.
"""
