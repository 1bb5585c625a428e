// What every benchmark section hands back: data for the JSON file and lines for the table.
export interface Section { name: string; data: unknown; lines: string[] }

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
