// The snippets shown with a new token (src/http/manage/snippets.ts): each quotes what it embeds for its shell.
import { snippetsFor } from '../../../../src/http/manage/snippets';

const TOKEN = 'tfk_AbCdEf123456secretsecretsecretsecret00';

describe('snippetsFor', () => {
  test('a user token: Bearer in curl, fetch and PowerShell, the user in curl -u', () => {
    const s = snippetsFor(TOKEN, 'alice', 'https://jira.example.com/rest/api/2/myself');
    expect(s.curlBearer).toBe(`curl -H 'Authorization: Bearer ${TOKEN}' 'https://jira.example.com/rest/api/2/myself'`);
    expect(s.curlBasic).toBe(`curl -u 'alice:${TOKEN}' 'https://jira.example.com/rest/api/2/myself'`);
    expect(s.fetch).toBe(`const response = await fetch("https://jira.example.com/rest/api/2/myself", { headers: { Authorization: "Bearer ${TOKEN}" } });`);
    expect(s.powershell).toBe(`Invoke-RestMethod -Uri 'https://jira.example.com/rest/api/2/myself' -Headers @{ Authorization = 'Bearer ${TOKEN}' }`);
  });

  test('an any-user token is Basic everywhere, with a USERNAME placeholder (Bearer would fail with user_required)', () => {
    const s = snippetsFor(TOKEN, null, 'http://127.0.0.1:3000/rest/api/2/myself');
    expect(s.curlBearer).toBe(`curl -u 'USERNAME:${TOKEN}' 'http://127.0.0.1:3000/rest/api/2/myself'`);
    const basic = Buffer.from(`USERNAME:${TOKEN}`).toString('base64');
    expect(s.fetch).toContain(`Authorization: "Basic ${basic}"`);
    expect(s.powershell).toContain(`'Basic ${basic}'`);
  });

  test("quotes break out of nothing: a ' in a user name or URL is escaped for sh and PowerShell", () => {
    const s = snippetsFor(TOKEN, "o'brien", "http://h/rest/x?q='a'");
    expect(s.curlBasic).toBe(`curl -u 'o'\\''brien:${TOKEN}' 'http://h/rest/x?q='\\''a'\\'''`);
    expect(s.powershell).toBe(`Invoke-RestMethod -Uri 'http://h/rest/x?q=''a''' -Headers @{ Authorization = 'Bearer ${TOKEN}' }`);
    expect(s.fetch).toContain(JSON.stringify("http://h/rest/x?q='a'"));
  });
});
