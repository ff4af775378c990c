/**
 * GPT-2's byte <-> character table used by byte-level BPE: every byte is shown as a printable
 * character (printable Latin-1 bytes as themselves, the others as U+0100 onwards, in order), so a
 * vocabulary of strings can hold arbitrary bytes. "Ġ" (U+0120) is the space byte, "Ċ" newline.
 */

export const BYTE_TO_CHAR: string[] = new Array(256);
export const CHAR_TO_BYTE = new Map<string, number>();

{
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const ch = printable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
    BYTE_TO_CHAR[b] = ch;
    CHAR_TO_BYTE.set(ch, b);
  }
}

const encoder = new TextEncoder();

/** The byte-level form of `text`: its UTF-8 bytes, each written as its table character. */
export function toByteLevel(text: string): string {
  // ASCII-only text (the common case) maps char by char without building a byte array.
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 128) {
      ascii = false;
      break;
    }
  }
  let out = "";
  if (ascii) {
    for (let i = 0; i < text.length; i++) out += BYTE_TO_CHAR[text.charCodeAt(i)];
    return out;
  }
  for (const b of encoder.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}
