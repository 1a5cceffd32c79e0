"""The advisor (``snakescope advise``): names the remedy of *High Performance
Python* for each hotspot whose runtime evidence supports it, and with
``--verify`` measures it. See docs/commands/advise.md.

:func:`_advisor.findings` turns a capture (a dict, as written by ``run
--opcodes``) and the operand sampler's facts into the capture's
``findings`` section. This package's own import is empty: the operand
sampler (``_operands``) is imported inside the program, where the rules
and their imports (ast, inspect: 30 ms) would be the program's cost.
"""
