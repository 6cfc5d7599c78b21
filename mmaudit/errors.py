"""The project's own exceptions; only the CLI turns them into messages and exit codes."""


class MMAuditError(Exception):
    """A problem a user can fix: the message names the file, row or column and what to do."""


class CatalogError(MMAuditError):
    """The input catalog cannot be read as given."""


class SchemaError(MMAuditError):
    """A stage's input file lacks the columns the stage needs."""


class ModelError(MMAuditError):
    """A model or backbone cannot be built, loaded or used."""


class ConfigError(MMAuditError):
    """A setting is unknown or has a wrong value."""
