"""Files copied from upstream release tags, and the pure code that reads them.

Shared by the providers and the lab (as the real cozyplan and the real installer read the same
release files); the engine itself never imports it.
"""
