// Serves the Firestore gRPC API for the local stack: node server.js --port=PORT [--host=127.0.0.1]
//
// @firestore-emulator/server 0.3.15 has no host option: FirestoreServer.start(port) binds `0.0.0.0:${port}`
// (src/server/index.ts), every interface. Its gRPC server, built with the Firestore service in the
// constructor, is a field (`server`, private in its TypeScript types only), so we bind that same server to
// the host given here instead of calling start(). package-lock.json pins the version; the stack's tests
// check that the port listens on loopback only.
const { FirestoreServer } = require("@firestore-emulator/server");
// The same grpc-js the library built its Server with, so its credentials are of the kind it expects.
const { ServerCredentials } = require(
  require.resolve("@grpc/grpc-js", { paths: [require.resolve("@firestore-emulator/server")] }),
);

function fail(message) {
  console.error(JSON.stringify({ severity: "ERROR", message }));
  process.exit(2);
}

// Options only in the --name=value form, so no value can be mistaken for an option.
function parseOptions(args) {
  const options = {};
  for (const arg of args) {
    const match = /^--(port|host)=(.*)$/.exec(arg);
    if (!match) fail(`unknown argument ${JSON.stringify(arg)}; usage: node server.js --port=PORT [--host=HOST]`);
    options[match[1]] = match[2];
  }
  return options;
}

function parsePort(text) {
  const port = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`--port must be a whole number from 1 to 65535, not ${JSON.stringify(text)}`);
  }
  return port;
}

function grpcServerOf(firestore) {
  const server = firestore.server;
  if (!server || typeof server.bindAsync !== "function") {
    fail("@firestore-emulator/server no longer exposes its gRPC server; cannot bind to one interface");
  }
  return server;
}

const options = parseOptions(process.argv.slice(2));
const port = parsePort(options.port ?? process.env.FIRESTORE_PORT ?? "8535");
const host = options.host ?? "127.0.0.1";
const address = `${host}:${port}`;
grpcServerOf(new FirestoreServer()).bindAsync(address, ServerCredentials.createInsecure(), (error) => {
  if (error) fail(`cannot listen on ${address}: ${error.message}`);
  console.log(JSON.stringify({ severity: "INFO", message: `firestore emulator listening on ${address}` }));
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
