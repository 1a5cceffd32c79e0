"""A server that waits for connections that never come, then stops (advise
corpus: idle, nothing to remedy)."""
import selectors
import socket

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
server.setblocking(False)
sel = selectors.DefaultSelector()
sel.register(server, selectors.EVENT_READ)
handled = 0
for _ in range(8):
    for key, _ in sel.select(timeout=0.1):
        conn, _ = server.accept()
        conn.close()
        handled += 1
print("handled", handled)
