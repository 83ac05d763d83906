"""Lambda entry points; each module is one function's handler."""
