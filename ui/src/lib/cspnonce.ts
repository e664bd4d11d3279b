// The CSP allows no inline styles (`style-src 'self'`), but CodeMirror injects its theme as a
// <style> element. Tauri adds a fresh nonce to every <style> of index.html it serves, and the same
// nonce to the CSP: the empty `<style id="csp-nonce">` carries it, and the editor reuses it.

/** The nonce of the page's `<style id="csp-nonce">`, if Tauri gave it one (`undefined` in tests
 * and `npm run dev`, where no CSP applies). */
export function styleNonce(doc: Document = document): string | undefined {
  const el = doc.getElementById("csp-nonce") as HTMLStyleElement | null;
  return el?.nonce || el?.getAttribute("nonce") || undefined;
}
