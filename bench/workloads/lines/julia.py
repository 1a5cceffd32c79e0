"""Julia set, pure Python (after High Performance Python, 2nd ed., chapter 2).

Same algorithm and constants as the book's ``julia1_nopil.py``; the grid is
smaller (``WIDTH``) so that one run takes roughly 2-3 s unprofiled on CPython
3.11. Deterministic: it checks the total iteration count for the grid size
used in the book's test and prints a short summary.
"""
import sys

# Line-profiling copy of ../julia.py for bench/agent.py: the same program
# except for this block and `@profile` on the hot function. kernprof -l and
# `snakescope run` put `profile` in builtins; plain python gets the no-op.
try:
    profile
except NameError:
    def profile(f):
        return f


X1, X2, Y1, Y2 = -1.8, 1.8, -1.8, 1.8
C_REAL, C_IMAG = -0.62772, -0.42193
WIDTH = int(sys.argv[1]) if len(sys.argv) > 1 else 650
MAX_ITERATIONS = 300


def calc_pure_python(desired_width, max_iterations):
    """Create a list of complex coordinates (zs) and complex parameters (cs),
    build the Julia set."""
    x_step = (X2 - X1) / desired_width
    y_step = (Y1 - Y2) / desired_width
    x = []
    y = []
    ycoord = Y2
    while ycoord > Y1:
        y.append(ycoord)
        ycoord += y_step
    xcoord = X1
    while xcoord < X2:
        x.append(xcoord)
        xcoord += x_step
    zs = []
    cs = []
    for ycoord in y:
        for xcoord in x:
            zs.append(complex(xcoord, ycoord))
            cs.append(complex(C_REAL, C_IMAG))
    output = calculate_z_serial_purepython(max_iterations, zs, cs)
    return len(zs), sum(output)


@profile
def calculate_z_serial_purepython(maxiter, zs, cs):
    """Calculate output list using the Julia update rule."""
    output = [0] * len(zs)
    for i in range(len(zs)):
        n = 0
        z = zs[i]
        c = cs[i]
        while abs(z) < 2 and n < maxiter:
            z = z * z + c
            n += 1
        output[i] = n
    return output


if __name__ == "__main__":
    cells, total = calc_pure_python(desired_width=WIDTH, max_iterations=MAX_ITERATIONS)
    if WIDTH == 1000:
        # the book's check value for the 1000x1000 grid
        assert total == 33219980, total
    print(f"julia width={WIDTH} cells={cells} total_iterations={total}")
