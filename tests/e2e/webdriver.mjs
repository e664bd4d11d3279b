// A minimal W3C WebDriver client (node 20 fetch) for tauri-driver.
export class Session {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  static async start(base, application) {
    const caps = { capabilities: { alwaysMatch: { "tauri:options": { application, args: [] } } } };
    // tauri-driver can answer before WebKitWebDriver listens: retry the first request briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await call(base, "POST", "/session", caps);
        return new Session(base, r.sessionId);
      } catch (e) {
        if (attempt >= 5) throw e;
        await sleep(1000);
      }
    }
  }

  cmd(method, path, body) {
    return call(this.base, method, `/session/${this.id}${path}`, body);
  }

  async find(css) {
    const r = await this.cmd("POST", "/element", { using: "css selector", value: css });
    return Object.values(r)[0];
  }

  async findAll(css) {
    const r = await this.cmd("POST", "/elements", { using: "css selector", value: css });
    return r.map((e) => Object.values(e)[0]);
  }

  /** Waits until `css` exists (and, if given, its text passes `test`). */
  async waitFor(css, test = () => true, timeoutMs = 20000) {
    const end = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < end) {
      try {
        const el = await this.find(css);
        last = await this.text(el);
        if (test(last)) return el;
      } catch {
        /* not there yet */
      }
      await sleep(150);
    }
    throw new Error(`timed out waiting for ${css} (last text: ${JSON.stringify(last)})`);
  }

  async click(css) {
    await this.clickEl(await this.waitFor(css));
  }

  async clickEl(el) {
    await this.cmd("POST", `/element/${el}/click`, {});
  }

  async type(css, text) {
    const el = await this.waitFor(css);
    await this.cmd("POST", `/element/${el}/value`, { text });
  }

  async text(el) {
    return this.cmd("GET", `/element/${el}/text`);
  }

  exec(script, args = []) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }

  /** Sets a <select>'s value the way a user would (fires `change`). */
  select(css, value) {
    return this.exec(
      "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change', {bubbles: true}));",
      [css, value],
    );
  }

  async screenshot() {
    return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
  }

  end() {
    return call(this.base, "DELETE", `/session/${this.id}`);
  }
}

async function call(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok || (json.value && json.value.error)) {
    throw new Error(`${method} ${path}: ${JSON.stringify(json.value ?? json)}`);
  }
  return json.value;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
