// Plain numeric CSV for results (loss curves, metrics): a header row, then one row per record.
// No quoting: a cell that would need it is refused on writing, so reading stays a split on ','.
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';

export type CsvCell = number | string;

// A decimal number as String(x) prints it, plus the non-finite values a diverged run can log.
const NUMBER = /^(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|-?Infinity)$/;

function show(value: string): string {
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function checkText(text: string, where: string): void {
  if (/[,"\r\n]/.test(text)) throw new Error(`formatCsv: ${where} ${show(text)} contains a comma, quote or line break`);
}

/**
 * Formats rows under a header, one line each. Numbers print as String(x), the shortest text
 * that reads back as the same double, hence also the same float32.
 */
export function formatCsv(header: readonly string[], rows: readonly ArrayLike<CsvCell>[]): string {
  for (const name of header) {
    if (name === '') throw new Error('formatCsv: a header name is empty');
    checkText(name, 'header name');
  }
  const lines = [header.join(',')];
  for (const [r, row] of rows.entries()) {
    if (row.length !== header.length) {
      throw new Error(`formatCsv: row ${r} has ${row.length} cells, expected ${header.length} (${header.join(',')})`);
    }
    const cells = Array.from(row, (cell) => {
      if (typeof cell === 'number') return String(cell);
      checkText(cell, `row ${r} cell`);
      return cell;
    });
    lines.push(cells.join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Writes a CSV file so that `path` holds either the old file or the whole new one. */
export function writeCsvAtomic(path: string, header: readonly string[], rows: readonly ArrayLike<CsvCell>[]): void {
  writeFileAtomic(path, formatCsv(header, rows));
}

/** Reads a numeric CSV; errors name the file, the 1-based line and the bad value. */
export function readCsv(path: string): { header: string[]; rows: number[][] } {
  return parseCsv(readFileSync(path, 'utf8'), path);
}

/** Parses numeric CSV text; `path` names the source in errors. */
export function parseCsv(text: string, path = 'csv'): { header: string[]; rows: number[][] } {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  // Tolerate CRLF from files that passed through a Windows editor.
  const texts = lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (texts.length === 0 || texts[0] === '') throw new Error(`${path}:1: no header row`);
  const header = texts[0].split(',');
  const rows = texts.slice(1).map((text, i) => {
    const where = `${path}:${i + 2}`;
    const cells = text.split(',');
    if (cells.length !== header.length) {
      throw new Error(`${where}: row ${show(text)} has ${cells.length} cells, expected ${header.length}`);
    }
    return cells.map((cell, c) => {
      if (!NUMBER.test(cell))
        throw new Error(`${where}: cell ${show(cell)} in column ${show(header[c])} is not a number`);
      return Number(cell);
    });
  });
  return { header, rows };
}
