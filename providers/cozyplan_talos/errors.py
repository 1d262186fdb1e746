"""Errors of the Talos client that callers catch (apart from the client, which loads grpclib
and the Talos API with the first connection)."""


class NotOurCluster(Exception):
    """The node's certificate does not chain to our OS CA (maintenance mode or another cluster)."""
