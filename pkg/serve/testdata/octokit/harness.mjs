// The harness of pkg/serve's Octokit tests: clients that record every
// request they make (method, path template, status, Link header, body)
// for the Go test to check against GitHub's API description, and finish,
// which prints the script's result and the calls as the last line.
import { Octokit } from "@octokit/rest";

export const calls = [];
export const owner = "mona", repo = "birds";

export function client(opts = {}) {
  const o = new Octokit({ baseUrl: process.env.BASE_URL, auth: process.env.TOKEN, log: { debug() {}, info() {}, warn() {}, error() {} }, ...opts });
  o.hook.after("request", (response, options) => {
    calls.push({ method: options.method, path: options.url, url: response.url, status: response.status,
      // A copy: octokit.paginate reshapes the body it is given.
      link: response.headers.link || "", data: recorded(response.data) });
  });
  o.hook.error("request", (error, options) => {
    calls.push({ method: options.method, path: options.url, url: error.request?.url, status: error.status,
      link: "", data: error.response?.data ?? null });
    throw error;
  });
  return o;
}

// recorded is a response body as the Go test checks it: a zip (an
// ArrayBuffer, after a redirect Octokit followed) as a string saying so.
function recorded(data) {
  if (data === undefined || data === "") return null;
  if (data instanceof ArrayBuffer) return `<binary, ${data.byteLength} bytes>`;
  return structuredClone(data);
}

// base64 is a binary body (a zip) for the Go test to open.
export const base64 = data => Buffer.from(data).toString("base64");

export const sleep = ms => new Promise(r => setTimeout(r, ms));

// until polls f until it returns something truthy (30 s at most).
export async function until(what, f) {
  for (let i = 0; i < 300; i++) {
    const v = await f();
    if (v) return v;
    await sleep(100);
  }
  throw new Error("timed out waiting for " + what);
}

export async function main(f) {
  try {
    const result = await f();
    console.log(JSON.stringify({ result, calls }));
  } catch (e) {
    console.log(JSON.stringify({ error: String(e.stack || e), calls }));
    process.exitCode = 1;
  }
}
