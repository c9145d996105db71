// ipywidgets typesets widget labels through the MathJax 2 API (MathJax.Hub.Queue); the book
// loads MathJax 3, which has no Hub. Forward such calls to MathJax 3's typesetPromise.
(function () {
  function install() {
    var mj = window.MathJax;
    if (!mj || mj.Hub || typeof mj.typesetPromise !== "function") { return; }
    mj.Hub = {
      Queue: function (job) {
        var element = Array.isArray(job) ? job[2] : undefined;
        mj.typesetPromise(element ? [element] : undefined).catch(function () {});
      }
    };
  }
  document.addEventListener("DOMContentLoaded", install);
  window.addEventListener("load", install);
})();
