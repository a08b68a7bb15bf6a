// bench/proxy_client.mjs URL CONCURRENCY ROUNDS WORDS: streams CONCURRENCY
// chat completions at once (stream: true, a prompt of WORDS words, one
// token each), ROUNDS times, from URL (a /v1/chat/completions route), and
// prints one JSON line: every request's time to first token (ms), the
// tokens received and the wall time of the rounds (s). bench/proxy.sh runs
// it against the backend and through the worker.
const [url, conc, rounds, words] = process.argv.slice(2);
const prompt = Array.from({ length: Number(words) }, (_, i) => `w${i}`).join(" ");
const body = JSON.stringify({ model: "fake-model", stream: true,
  messages: [{ role: "user", content: prompt }] });

async function one() {
  const t0 = performance.now();
  const res = await fetch(url, { method: "POST", body,
    headers: { "Content-Type": "application/json", Authorization: "Bearer bench" } });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const dec = new TextDecoder();
  let ttft = null;
  let text = "";
  for await (const chunk of res.body) {
    text += dec.decode(chunk, { stream: true });
    if (ttft === null && text.includes('"content"')) ttft = performance.now() - t0;
  }
  return { ttft, tokens: text.split('"content"').length - 1 };
}

const ttft = [];
let tokens = 0;
const t0 = performance.now();
for (let r = 0; r < Number(rounds); r++) {
  const out = await Promise.all(Array.from({ length: Number(conc) }, one));
  for (const o of out) {
    ttft.push(o.ttft);
    tokens += o.tokens;
  }
}
console.log(JSON.stringify({ ttft, tokens, seconds: (performance.now() - t0) / 1000 }));
