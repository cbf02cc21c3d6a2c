// @peculiar/x509, set up once for node: it resolves algorithms through tsyringe (which needs the
// Reflect metadata API) and does its crypto through a WebCrypto provider (node's).
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
