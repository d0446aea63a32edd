// A small Server-Sent Events reader: the stream's lines gathered into the document's EditEvent (its `event:` name,
// `id:`, `retry:` and JSON `data:`), an event at each blank line; comment lines (heartbeats) are skipped.
import { editChangeEventEventValues, editReconnectEventEventValues, type components } from './generated/schema.js';

type EditEvent = components['schemas']['EditEvent'];

function isOneOf<Name extends string>(names: ReadonlyArray<Name>, name: string): name is Name {
  return names.some((known) => known === name);
}

function toEvent(fields: Map<string, string>): EditEvent | undefined {
  const name = fields.get('event') ?? 'message';
  const data = fields.get('data');
  if (data === undefined) return undefined; // a retry: line alone
  if (isOneOf(editReconnectEventEventValues, name))
    return { event: name, retry: Number(fields.get('retry')), data: JSON.parse(data) };
  if (isOneOf(editChangeEventEventValues, name)) return { event: name, id: fields.get('id') ?? '', data: JSON.parse(data) };
  throw new Error(`an event the document does not name: ${name}`);
}

export async function* readEvents(stream: ReadableStream<Uint8Array>): AsyncGenerator<EditEvent> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let fields = new Map<string, string>();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, end).replace(/\r$/, '');
        buffered = buffered.slice(end + 1);
        if (line === '') {
          const event = toEvent(fields);
          fields = new Map();
          if (event !== undefined) yield event;
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const [name, text] = colon < 0 ? [line, ''] : [line.slice(0, colon), line.slice(colon + 1).replace(/^ /, '')];
          fields.set(name, name === 'data' && fields.has('data') ? `${fields.get('data')}\n${text}` : text);
        }
      }
    }
  } finally {
    await reader.cancel();
  }
}
