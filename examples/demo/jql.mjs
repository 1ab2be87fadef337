// A tiny subset of JQL for the demo's search: `field = value` and `field in (v, …)` clauses on project, key
// (issuekey) and status, joined by AND, with an optional ORDER BY key|created [ASC|DESC]. Empty means all.

// The query runs on rows `{ id, key, project, status, created }` (id a number, so that DEMO-10 sorts after DEMO-9).
const FIELDS = { project: (row) => row.project, key: (row) => row.key, issuekey: (row) => row.key, status: (row) => row.status };
const ORDER_FIELDS = { key: (row) => row.id, created: (row) => row.created };

/** A JQL the demo does not understand: Jira answers 400 with `errorMessages`, and so does the demo. */
export class JqlError extends Error {}

/** Words, quoted strings and the punctuation `= ( ) ,`. */
function tokenize(jql) {
  const tokens = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([=(),])|([^\s=(),"']+))/y;
  let at = 0;
  while (at < jql.length && jql.slice(at).trim() !== '') {
    re.lastIndex = at;
    const m = re.exec(jql);
    if (m === null) throw new JqlError(`Error in the JQL Query: unexpected character at position ${at + 1}.`);
    at = re.lastIndex;
    if (m[1] !== undefined || m[2] !== undefined) tokens.push({ value: (m[1] ?? m[2]).replace(/\\(.)/g, '$1'), quoted: true });
    else tokens.push({ value: m[3] ?? m[4], quoted: false });
  }
  return tokens;
}

/** Compiles `jql` into `{ matches(row), compare(a, b) }`; throws {@link JqlError} for what it does not support. */
export function compileJql(jql = '') {
  const tokens = tokenize(String(jql));
  let i = 0;
  const peekWord = () => (tokens[i] !== undefined && !tokens[i].quoted ? tokens[i].value.toLowerCase() : undefined);
  const expect = (what) => {
    if (peekWord() !== what) throw new JqlError(`Error in the JQL Query: expecting '${what}' but got ${tokens[i] === undefined ? 'the end of the query' : `'${tokens[i].value}'`}.`);
    i++;
  };
  const value = () => {
    const token = tokens[i++];
    if (token === undefined || (!token.quoted && /^[=(),]$/.test(token.value))) throw new JqlError('Error in the JQL Query: expecting a value.');
    return token.value;
  };

  const clauses = [];
  while (i < tokens.length && peekWord() !== 'order') {
    if (clauses.length > 0) expect('and');
    const name = peekWord();
    const field = FIELDS[name];
    if (field === undefined) throw new JqlError(`Error in the JQL Query: the demo searches by project, key or status only, not '${tokens[i]?.value}'.`);
    i++;
    let values;
    if (peekWord() === '=') {
      i++;
      values = [value()];
    } else {
      expect('in');
      expect('(');
      values = [value()];
      while (peekWord() === ',') {
        i++;
        values.push(value());
      }
      expect(')');
    }
    const wanted = new Set(values.map((v) => v.toLowerCase()));
    clauses.push((row) => wanted.has(String(field(row)).toLowerCase()));
  }
  let compare = (a, b) => a.id - b.id;
  if (peekWord() === 'order') {
    i++;
    expect('by');
    const order = ORDER_FIELDS[peekWord()];
    if (order === undefined) throw new JqlError('Error in the JQL Query: the demo orders by key or created only.');
    i++;
    const direction = peekWord() === 'desc' ? -1 : 1;
    if (peekWord() === 'asc' || peekWord() === 'desc') i++;
    compare = (a, b) => (order(a) < order(b) ? -direction : order(a) > order(b) ? direction : 0);
  }
  if (i < tokens.length) throw new JqlError(`Error in the JQL Query: unexpected '${tokens[i].value}'.`);
  return { matches: (row) => clauses.every((clause) => clause(row)), compare };
}
