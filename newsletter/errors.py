"""One error root, so the CLI can turn any failure into one line and an exit status.

The classes say who must act: the writer fixes a setting, a post, a template, the list or the
command line; the outbox, the SMTP server or a recipient's address fails on its own terms. The run
loop branches on them: a `ConfigError` or an unusable outbox stops it (it would fail the same way
every time), a busy outbox or a server that refused the work is retried on the next tick, and a
`RecipientError` fails only that one delivery.
"""


class NewsletterError(Exception):
    """Something the user can fix; the message names the file, line or setting at fault."""


class UsageError(NewsletterError):
    """The command line asks for something that cannot be done as given (exit status 2)."""


class ConfigError(NewsletterError):
    """A setting in newsletter.toml (or the environment) is missing or wrong."""


class PostError(NewsletterError):
    """A post cannot be read or split."""


class TemplateError(NewsletterError):
    """A template is broken, or rendering produced an email that cannot be sent."""


class SubscriberError(NewsletterError):
    """The subscriber list cannot be read."""


class RecipientError(NewsletterError):
    """One recipient's address or name cannot go into a message; the others can."""


class OutboxError(NewsletterError):
    """The outbox file is missing, damaged, newer than this program, or refuses the change."""


class OutboxBusy(OutboxError):
    """Another process holds the outbox's write lock for too long; trying again later helps."""


class DeliveryError(NewsletterError):
    """The SMTP server refused the work, or no connection could be made."""


class MailboxError(NewsletterError):
    """A mailbox of bounce reports (mbox file or Maildir folder) cannot be read."""
