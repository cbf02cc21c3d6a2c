// A strict check that a string is well-formed XML as the charts write it (elements, attributes in
// double quotes, the five predefined entities and numeric references, no DTD): enough to catch an
// unescaped label or an unclosed element without an XML library. Returns the element names in
// document order.
export function wellFormed(xml: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  const entity = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;
  const checkText = (text: string, where: string) => {
    for (let i = 0; i < text.length; i++) {
      if (text[i] === "<") throw new Error(`raw '<' in ${where}`);
      if (text[i] === "&" && !entity.test(text.slice(i))) throw new Error(`raw '&' in ${where}: ${text.slice(i, i + 12)}`);
    }
  };
  let i = 0;
  let rootClosed = false;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (stack.length === 0 && text.trim() !== "") throw new Error(`text outside the root element: ${text.slice(0, 20)}`);
    checkText(text, "text");
    if (lt < 0) break;
    const gt = xml.indexOf(">", lt);
    if (gt < 0) throw new Error("unterminated tag");
    const tag = xml.slice(lt + 1, gt);
    if (tag.startsWith("/")) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open ?? "nothing"}>`);
      if (stack.length === 0) rootClosed = true;
    } else {
      if (rootClosed) throw new Error("a second root element");
      const selfClosing = tag.endsWith("/");
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const m = /^([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<]*")*)\s*$/.exec(body);
      if (!m) throw new Error(`malformed tag <${tag.slice(0, 60)}>`);
      for (const a of m[2]!.matchAll(/="([^"]*)"/g)) checkText(a[1]!, `an attribute of <${m[1]}>`);
      const attrs = [...m[2]!.matchAll(/\s([A-Za-z_][\w:.-]*)=/g)].map((a) => a[1]);
      if (new Set(attrs).size !== attrs.length) throw new Error(`duplicate attribute in <${m[1]}>`);
      names.push(m[1]!);
      if (!selfClosing) stack.push(m[1]!);
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join("> <")}>`);
  if (names.length === 0) throw new Error("no element");
  return names;
}
