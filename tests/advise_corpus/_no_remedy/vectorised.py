"""Diffusion steps in numpy, already vectorised and in place (advise corpus:
nothing to remedy)."""
import numpy as np

grid = np.zeros((400, 400))
grid[180:220, 180:220] = 1.0
nxt = np.empty_like(grid)
for _ in range(150):
    nxt[1:-1, 1:-1] = grid[:-2, 1:-1]
    nxt[1:-1, 1:-1] += grid[2:, 1:-1]
    nxt[1:-1, 1:-1] += grid[1:-1, :-2]
    nxt[1:-1, 1:-1] += grid[1:-1, 2:]
    nxt *= 0.25
    grid, nxt = nxt, grid
print(f"{grid.sum():.6f}")
