// Serves the Firestore gRPC API on 127.0.0.1:<port> for the local stack.
// The library binds 0.0.0.0 itself; the stack only ever talks to loopback.
const { FirestoreServer } = require("@firestore-emulator/server");

const port = Number(process.argv[2] || process.env.FIRESTORE_PORT || 8535);
const server = new FirestoreServer();
server.start(port).then(() => {
  console.log(JSON.stringify({ severity: "INFO", message: `firestore emulator listening on ${port}` }));
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
