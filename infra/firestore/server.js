// Serves the Firestore gRPC API for the local stack: node server.js --port=PORT
// The library binds 0.0.0.0 itself; the stack only ever talks to loopback.
const { FirestoreServer } = require("@firestore-emulator/server");

function fail(message) {
  console.error(JSON.stringify({ severity: "ERROR", message }));
  process.exit(2);
}

// Options only in the --name=value form, so no value can be mistaken for an option.
function parseOptions(args) {
  const options = {};
  for (const arg of args) {
    const match = /^--(port)=(.*)$/.exec(arg);
    if (!match) fail(`unknown argument ${JSON.stringify(arg)}; usage: node server.js --port=PORT`);
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

const options = parseOptions(process.argv.slice(2));
const port = parsePort(options.port ?? process.env.FIRESTORE_PORT ?? "8535");
const server = new FirestoreServer();
server.start(port).then(
  () => console.log(JSON.stringify({ severity: "INFO", message: `firestore emulator listening on ${port}` })),
  (error) => fail(`cannot listen on port ${port}: ${error.message}`),
);
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => process.exit(0));
}
