// Runs autocannon in its own process (so the load generator does not share the server's event
// loop) and prints its result as one JSON line. Options arrive as JSON in argv[2]; a POST body's
// "{n}" becomes a number unique to each request, so every insert has its own key.
import autocannon from 'autocannon';

const { url, connections, seconds, method = 'GET', body, headers = {} } = JSON.parse(process.argv[2]);
let n = 0;
const result = await autocannon({
  url,
  connections,
  duration: seconds,
  method,
  headers,
  ...(body ? { requests: [{ method, headers, setupRequest: (req) => ({ ...req, body: body.replaceAll('{n}', String(n++)) }) }] } : {}),
});
process.stdout.write(
  `${JSON.stringify({ rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors })}\n`,
);
