"""N-body simulation, pure Python, with many small function calls.

Adapted from the classic Computer Language Benchmarks Game ``nbody`` program
(Jovian planets), restructured so that the hot loop goes through several
levels of Python function calls (``advance`` -> ``step_pair`` -> ``accel``),
which gives a profiler deeper, more varied stacks than a single flat loop.
Deterministic: fixed initial state, fixed number of steps; prints the energy.
"""
import sys

# Line-profiling copy of ../nbody_like.py for bench/agent.py: the same program
# except for this block and `@profile` on the hot function. kernprof -l and
# `snakescope run` put `profile` in builtins; plain python gets the no-op.
try:
    profile
except NameError:
    def profile(f):
        return f


PI = 3.14159265358979323
SOLAR_MASS = 4 * PI * PI
DAYS_PER_YEAR = 365.24
STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 420000


class Body:
    __slots__ = ("x", "y", "z", "vx", "vy", "vz", "mass")

    def __init__(self, x, y, z, vx, vy, vz, mass):
        self.x, self.y, self.z = x, y, z
        self.vx = vx * DAYS_PER_YEAR
        self.vy = vy * DAYS_PER_YEAR
        self.vz = vz * DAYS_PER_YEAR
        self.mass = mass * SOLAR_MASS


def make_system():
    return [
        Body(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0),  # sun
        Body(4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
             1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05,
             9.54791938424326609e-04),  # jupiter
        Body(8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
             -2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05,
             2.85885980666130812e-04),  # saturn
        Body(1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
             2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05,
             4.36624404335156298e-05),  # uranus
        Body(1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
             2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05,
             5.15138902046611451e-05),  # neptune
    ]


def offset_momentum(bodies):
    px = py = pz = 0.0
    for b in bodies:
        px += b.vx * b.mass
        py += b.vy * b.mass
        pz += b.vz * b.mass
    sun = bodies[0]
    sun.vx = -px / SOLAR_MASS
    sun.vy = -py / SOLAR_MASS
    sun.vz = -pz / SOLAR_MASS


def accel(dx, dy, dz, dt):
    d2 = dx * dx + dy * dy + dz * dz
    return dt / (d2 * d2 ** 0.5)


@profile
def step_pair(b1, b2, dt):
    dx = b1.x - b2.x
    dy = b1.y - b2.y
    dz = b1.z - b2.z
    mag = accel(dx, dy, dz, dt)
    m1 = b1.mass * mag
    m2 = b2.mass * mag
    b1.vx -= dx * m2
    b1.vy -= dy * m2
    b1.vz -= dz * m2
    b2.vx += dx * m1
    b2.vy += dy * m1
    b2.vz += dz * m1


def move(b, dt):
    b.x += dt * b.vx
    b.y += dt * b.vy
    b.z += dt * b.vz


def advance(bodies, pairs, dt):
    for b1, b2 in pairs:
        step_pair(b1, b2, dt)
    for b in bodies:
        move(b, dt)


def energy(bodies):
    e = 0.0
    n = len(bodies)
    for i in range(n):
        b1 = bodies[i]
        e += 0.5 * b1.mass * (b1.vx * b1.vx + b1.vy * b1.vy + b1.vz * b1.vz)
        for j in range(i + 1, n):
            b2 = bodies[j]
            dx, dy, dz = b1.x - b2.x, b1.y - b2.y, b1.z - b2.z
            e -= (b1.mass * b2.mass) / (dx * dx + dy * dy + dz * dz) ** 0.5
    return e


def simulate(steps, dt=0.01):
    bodies = make_system()
    offset_momentum(bodies)
    pairs = [(bodies[i], bodies[j]) for i in range(len(bodies)) for j in range(i + 1, len(bodies))]
    e0 = energy(bodies)
    for _ in range(steps):
        advance(bodies, pairs, dt)
    return e0, energy(bodies)


if __name__ == "__main__":
    e0, e1 = simulate(STEPS)
    print(f"nbody steps={STEPS} energy_before={e0:.9f} energy_after={e1:.9f}")
