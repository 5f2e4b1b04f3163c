-- Placeholder: number 4 belongs to another branch's migration; this file keeps the numbering contiguous until it lands.
SELECT 1;
