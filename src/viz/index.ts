// The figure layer: densities on grids, multi-panel figures of the two-pixel plane, image grids.
export { gridFromFunction, histogram2d, kde2d, totalVariation, type Grid, type Range } from './grid.js';
export {
  renderFigure,
  writeFigure,
  figureSvg,
  type FigureOptions,
  type Panel,
  type Path,
  type Points,
  type Marker,
} from './figure.js';
export { renderImageGrid, type ImageGridOptions } from './images.js';
