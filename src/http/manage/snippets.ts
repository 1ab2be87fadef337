// Ready-made calls that use a new token, shown beside its secret once: curl with Bearer and with Basic,
// fetch, and PowerShell's Invoke-RestMethod (JiraPS users live in PowerShell).

/** The snippets of one token. */
export interface TokenSnippets {
  readonly curlBearer: string;
  readonly curlBasic: string;
  readonly fetch: string;
  readonly powershell: string;
}

/** `text` as one POSIX shell word. */
const shell = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
/** `text` as a PowerShell single-quoted string. */
const powershell = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/**
 * The snippets for `token`, calling `url`. A token bound to a user sends it as the Basic user name; an
 * any-user token (owner null) needs the caller's name, shown as `USERNAME`.
 */
export function snippetsFor(token: string, owner: string | null, url: string): TokenSnippets {
  const user = owner ?? 'USERNAME';
  const basic = Buffer.from(`${user}:${token}`, 'utf8').toString('base64');
  // An any-user token acts only with Basic: its Bearer snippets would fail with user_required.
  const authorization = owner === null ? `Basic ${basic}` : `Bearer ${token}`;
  return {
    curlBearer: owner === null ? `curl -u ${shell(`${user}:${token}`)} ${shell(url)}` : `curl -H ${shell(`Authorization: Bearer ${token}`)} ${shell(url)}`,
    curlBasic: `curl -u ${shell(`${user}:${token}`)} ${shell(url)}`,
    fetch: `const response = await fetch(${JSON.stringify(url)}, { headers: { Authorization: ${JSON.stringify(authorization)} } });`,
    powershell: `Invoke-RestMethod -Uri ${powershell(url)} -Headers @{ Authorization = ${powershell(authorization)} }`,
  };
}
