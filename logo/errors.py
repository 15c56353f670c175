"""Every failure a Logo program can cause is a `LogoError`, with a message a person can act on."""


class LogoError(Exception):
    """Base class: bad program text or a program that cannot be run within the limits."""


class LogoSyntaxError(LogoError):
    """The text is not a well-formed program; carries the line, column and what was expected."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None,
                 expected: tuple[str, ...] = ()):
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(where + message)
        self.line, self.column, self.expected = line, column, expected


class UnboundNameError(LogoError):
    """A variable or procedure is used where no definition is in scope."""


class ArityError(LogoError):
    """A procedure is called with the wrong number of arguments."""


class LimitError(LogoError):
    """Base class for the execution limits that keep every program finite and small."""


class StepLimitError(LimitError):
    """The program executed more instructions than allowed."""


class SegmentLimitError(LimitError):
    """The program drew more segments than allowed."""


class LoopLimitError(LimitError):
    """A loop count is too large (or not a number)."""


class CallDepthError(LimitError):
    """Procedure calls nest too deeply (for example, a procedure calls itself)."""


class ProgramSizeError(LimitError):
    """The program (text, nesting, or compiled code after inlining procedures) is too large."""


class NumericRangeError(LimitError):
    """An arithmetic result is out of range, or a division by zero."""
