"""Turn one blog post into a weekly email series and the social posts that go with it."""

__version__ = "0.1.0"
