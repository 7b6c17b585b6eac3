// Keeps secrets out of everything kubetrail prints: every log line (lib/log.ts writes through
// redactText), the error a command exits with (cli/main.ts) and the configuration a service logs
// at start (lib/config.ts redactConfig). Secrets are the password settings and whatever is read
// from a password or token file, remembered here when they are resolved or read; the userinfo of
// any URL (https://user:password@host) is masked wherever it appears.

const secrets = new Set<string>();

/** Secrets shorter than this are not searched for in text: masking every "ab" would garble the logs. */
export const MIN_REDACTED_LENGTH = 4;

/** A value never to be printed from now on (and its JSON-escaped form, as it appears in a log line). */
export function rememberSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_REDACTED_LENGTH) return;
  secrets.add(value);
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) secrets.add(escaped);
}

/** scheme://user[:password]@ → scheme://***@ (the user name alone can be a token, too). */
const urlUserinfo = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"']+@/gi;

/** The text with every remembered secret and every URL's userinfo replaced by ***. */
export function redactText(text: string): string {
  let out = text.replace(urlUserinfo, '$1***@');
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join('***');
  return out;
}

/** A URL without its userinfo, for printing. */
export function redactUrl(url: string): string {
  return url.replace(urlUserinfo, '$1***@');
}
