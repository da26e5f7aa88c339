/**
 * Server-sent events as OpenAI-compatible servers stream them: `data: <json>` lines separated by a
 * blank line, ended by `data: [DONE]`. Yields each data payload's text.
 */
export async function* readSseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
      if (line === "") {
        if (data.length > 0) {
          const payload = data.join("\n");
          data = [];
          if (payload === "[DONE]") return;
          yield payload;
        }
      } else if (line.startsWith("data:")) {
        data.push(line.slice(5).replace(/^ /, ""));
      }
      // Other fields (event:, id:, retry:) and comments (":") carry nothing these APIs use.
      newline = buffer.indexOf("\n");
    }
  }
  if (data.length > 0) {
    const payload = data.join("\n");
    if (payload !== "[DONE]") yield payload;
  }
}
