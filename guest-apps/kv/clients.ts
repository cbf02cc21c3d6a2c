// The connected clients, by connection id: the Conn of each (kv.ts opens and closes them), for the
// commands that look at other clients (CLIENT LIST, KILL, UNBLOCK).
import { Conn } from "./conn";

export const conns = new Map<u32, Conn>();
