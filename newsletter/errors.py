"""One error root, so the CLI can turn any failure into one line and exit status 1."""


class NewsletterError(Exception):
    """Something the user can fix; the message names the file, line or setting at fault."""


class ConfigError(NewsletterError):
    """A setting in newsletter.toml (or the environment) is missing or wrong."""


class PostError(NewsletterError):
    """A post cannot be read or split."""


class TemplateError(NewsletterError):
    """A template is broken, or rendering produced an email that cannot be sent."""


class SubscriberError(NewsletterError):
    """The subscriber list cannot be read."""


class DeliveryError(NewsletterError):
    """The SMTP server or the outbox refused the work."""
