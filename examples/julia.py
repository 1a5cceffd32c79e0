"""The Julia set from chapter 2 of *High Performance Python*: a CPU-bound,
pure-Python workload whose time is spent in `calculate_z_serial_purepython`.

    python3 examples/julia.py [WIDTH] [MAX_ITERATIONS]

The book uses a width of 1000 and 300 iterations (about 10 s on a laptop);
the demo uses 500 so it finishes in a few seconds.
"""
import sys
import time

x1, x2, y1, y2 = -1.8, 1.8, -1.8, 1.8
c_real, c_imag = -0.62772, -0.42193


def calc_pure_python(desired_width, max_iterations):
    """Create a list of complex coordinates (zs) and complex parameters (cs),
    build Julia set"""
    x_step = (x2 - x1) / desired_width
    y_step = (y1 - y2) / desired_width
    x = []
    y = []
    ycoord = y2
    while ycoord > y1:
        y.append(ycoord)
        ycoord += y_step
    xcoord = x1
    while xcoord < x2:
        x.append(xcoord)
        xcoord += x_step
    zs = []
    cs = []
    for ycoord in y:
        for xcoord in x:
            zs.append(complex(xcoord, ycoord))
            cs.append(complex(c_real, c_imag))

    print("Length of x:", len(x))
    print("Total elements:", len(zs))
    start_time = time.time()
    output = calculate_z_serial_purepython(max_iterations, zs, cs)
    end_time = time.time()
    secs = end_time - start_time
    print(calculate_z_serial_purepython.__name__ + " took", round(secs, 2), "seconds")
    return output


def calculate_z_serial_purepython(maxiter, zs, cs):
    """Calculate output list using Julia update rule"""
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
    width = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    calc_pure_python(desired_width=width, max_iterations=iterations)
