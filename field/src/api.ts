// fetch() as the sync core's Transport: a bearer token, JSON in and out, network failures as TransportError.
import { type Answer, type Transport, TransportError } from "./sync";

export class FetchTransport implements Transport {
  constructor(private token: () => string | null, private base = "") {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const t = this.token();
    return { ...(t ? { Authorization: `Bearer ${t}` } : {}), ...extra };
  }

  private async answer(resp: Response): Promise<Answer> {
    const text = await resp.text();
    let payload: any = {};
    try { payload = text ? JSON.parse(text) : {}; } catch { payload = {}; }
    const headers: Record<string, string> = {};
    resp.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
    return { status: resp.status, payload, headers };
  }

  async request(method: string, path: string, opts: { params?: Record<string, any>; body?: any } = {}): Promise<Answer> {
    const q = Object.entries(opts.params || {}).filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join("&");
    try {
      const resp = await fetch(this.base + path + (q ? `?${q}` : ""), {
        method, cache: "no-store",
        headers: this.headers(opts.body !== undefined ? { "Content-Type": "application/json" } : {}),
        body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      });
      return await this.answer(resp);
    } catch (e) {
      throw new TransportError(String(e));
    }
  }

  async send(method: string, path: string, data: Blob, headers: Record<string, string>): Promise<Answer> {
    try {
      const resp = await fetch(this.base + path, { method, headers: this.headers(headers), body: data, cache: "no-store" });
      return await this.answer(resp);
    } catch (e) {
      throw new TransportError(String(e));
    }
  }
}
