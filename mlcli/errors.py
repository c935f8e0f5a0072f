"""Errors a user can act on, and the exit codes the CLI maps them to.

Everything raised here is printed as one line per problem, never as a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USER = 2
EXIT_INTERRUPTED = 130


class MlcliError(Exception):
    """Base class: carries the exit code the CLI should return."""

    exit_code = EXIT_RUNTIME


class UserError(MlcliError):
    """Bad input from the user (a path, a value, a run directory): exit 2."""

    exit_code = EXIT_USER


class ConfigError(UserError):
    """One or more problems in a config, each already located (`file:line:col: field: message`)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class TrainingFailed(MlcliError):
    """A run that started but could not finish (NaN loss, divergence): exit 1."""
